package ui

import (
	"context"
	"fmt"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
)

func TestBridgeUpdatesWidgetsInOrder(t *testing.T) {
	test.NewTempApp(t)
	label := widget.NewLabel("")
	var seen []string
	b := NewBridge(func(s string) {
		label.SetText(s)
		seen = append(seen, s)
	})
	ch := make(chan string)
	done := make(chan struct{})
	go func() { b.Run(context.Background(), ch); close(done) }()
	for i := range 5 {
		ch <- fmt.Sprintf("Export %d/5", i+1)
	}
	close(ch)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("bridge did not stop after the channel closed")
	}
	if label.Text != "Export 5/5" || len(seen) != 5 || seen[0] != "Export 1/5" {
		t.Errorf("label %q, seen %v", label.Text, seen)
	}
}

func TestBridgeStopsOnCancel(t *testing.T) {
	test.NewTempApp(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { NewBridge(func(int) {}).Run(ctx, make(chan int)); close(done) }()
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("bridge did not stop on cancel")
	}
}
