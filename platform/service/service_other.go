//go:build !windows

package service

import (
	"context"
	"runtime"
)

// Install is for Windows; on Linux the systemd unit in docs/ is used.
func Install(Config) error { return ErrUnsupported{OS: runtime.GOOS} }

// Supported: no service manager kanzleisync installs into here.
const Supported = false

// Installed: never, here.
func Installed() bool { return false }

// Start is for Windows.
func Start() error { return ErrUnsupported{OS: runtime.GOOS} }

// Uninstall is for Windows.
func Uninstall() error { return ErrUnsupported{OS: runtime.GOOS} }

// IsService: a systemd unit runs `kanzleisync serve` like a command.
func IsService() bool { return false }

// Run runs f until it returns.
func Run(f func(ctx context.Context) error) error { return f(context.Background()) }
