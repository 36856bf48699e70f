//go:build !race

package sls_test

const raceBuild = false
