//go:build race

package sls_test

// raceBuild reports a -race build; see TestConsumerLibrary.
const raceBuild = true
