package main

import "testing"

func TestParseFaults(t *testing.T) {
	f, err := parseFaults("429=0.1, 503=0.05")
	if err != nil || f.Status[429] != 0.1 || f.Status[503] != 0.05 {
		t.Fatalf("%+v %v", f, err)
	}
	for _, bad := range []string{"429", "418=0.1", "429=zwei", "500=1.5", "=0.1"} {
		if _, err := parseFaults(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
