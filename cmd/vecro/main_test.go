package main

import (
	"os"
	"testing"
)

// asVecro makes the test binary act as the vecro command, so that tests can
// run it as a separate process (and kill it) without building it first.
const asVecro = "VECRO_TEST_AS_VECRO"

func TestMain(m *testing.M) {
	if os.Getenv(asVecro) == "1" {
		os.Exit(mainExit())
	}
	os.Exit(m.Run())
}
