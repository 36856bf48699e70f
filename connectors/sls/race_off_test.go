//go:build !race

package sls

const raceBuild = false
