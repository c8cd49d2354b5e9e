package core

import (
	"time"

	"kanzleisync/app/graph"
)

// budgetPerSecond is the most items one mailbox's export can take per
// second: every item is at least one request of Microsoft's budget.
var budgetPerSecond = float64(graph.MailboxBudget) / graph.MailboxWindow.Seconds()

// Progress sums the running cycle's items of ws over its kinds.
func (ws WorkerSync) Progress() (done, total int) {
	for k, t := range ws.Total {
		done, total = done+min(ws.Completed[k], t), total+t
	}
	return done, total
}

// Remaining estimates how long the running cycle of ws still takes: the
// items left at the pace measured so far, never faster than Microsoft's
// budget for one mailbox. ok is false while there is nothing to say (not
// running, no totals yet).
func (ws WorkerSync) Remaining(now time.Time) (left time.Duration, ok bool) {
	done, total := ws.Progress()
	if !ws.Running || total == 0 {
		return 0, false
	}
	if done >= total {
		return 0, true
	}
	rate := budgetPerSecond
	// the measured pace counts once it rests on enough items and time
	if elapsed := now.Sub(ws.Started).Seconds(); !ws.Started.IsZero() && done >= 20 && elapsed >= 5 {
		rate = min(rate, float64(done)/elapsed)
	}
	return time.Duration(float64(total-done) / rate * float64(time.Second)), true
}
