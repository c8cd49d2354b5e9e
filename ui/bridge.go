// Package ui holds kanzleisync's Fyne windows, tray and widgets. Work in
// background goroutines reaches widgets only through a Bridge, which hands
// every update to Fyne's UI thread with fyne.Do.
package ui

import (
	"context"

	"fyne.io/fyne/v2"
)

// Bridge forwards values from background goroutines (status events, progress)
// to a function that updates widgets on the UI thread.
type Bridge[T any] struct {
	apply func(T)
}

// NewBridge returns a bridge that calls apply on the UI thread for each value.
func NewBridge[T any](apply func(T)) *Bridge[T] { return &Bridge[T]{apply: apply} }

// Run delivers the values of ch until ch is closed or ctx ends. Each value is
// applied with fyne.DoAndWait, so updates keep their order and a slow UI
// slows the producer instead of piling up goroutines.
func (b *Bridge[T]) Run(ctx context.Context, ch <-chan T) {
	for {
		select {
		case <-ctx.Done():
			return
		case v, ok := <-ch:
			if !ok {
				return
			}
			fyne.DoAndWait(func() { b.apply(v) })
		}
	}
}
