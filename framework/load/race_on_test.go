//go:build race

package load_test

// raceOn: the race detector slows every goroutine several-fold, so a
// measurement of the generator's timing under it says nothing.
const raceOn = true
