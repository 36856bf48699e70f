// Package cputime reads this process's CPU time, user and system: the
// figure the benchmarks and end-to-end measurements report beside their
// wall-clock rates, since the machine's other load moves those.
package cputime
