// Package transform provides Ferry's built-in transform plugins: the
// EventBridge-style filter (an event pattern) and, in its subpackages, the
// pattern engine itself and the template and single-message transforms.
// Plugins lists them for registration by cmd.
package transform
