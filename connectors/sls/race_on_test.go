//go:build race

package sls

// raceBuild: allocation counts are not checked under the race detector,
// which allocates on its own.
const raceBuild = true
