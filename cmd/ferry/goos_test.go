package main

import goruntime "runtime"

func runtimeGOOS() string { return goruntime.GOOS }
