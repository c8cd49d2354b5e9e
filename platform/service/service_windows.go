package service

import (
	"context"
	"errors"
	"time"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc"
	"golang.org/x/sys/windows/svc/mgr"

	"kanzleisync/app/text"
)

// Installed reports whether the service is registered.
func Installed() bool {
	m, err := mgr.Connect()
	if err != nil {
		return false
	}
	defer m.Disconnect()
	s, err := m.OpenService(Name)
	if err != nil {
		return false
	}
	s.Close()
	return true
}

// Install registers the service (automatic start, restart after a crash).
func Install(c Config) error {
	m, err := mgr.Connect()
	if err != nil {
		return text.Errorf("Dienstverwaltung nicht erreichbar (als Administrator ausführen?): %w", err)
	}
	defer m.Disconnect()
	if s, err := m.OpenService(Name); err == nil {
		s.Close()
		return text.Errorf("Der Dienst %s ist schon installiert; zuerst „kanzleisync service uninstall“.", Name)
	}
	cfg := mgr.Config{DisplayName: DisplayName, Description: Description, StartType: mgr.StartAutomatic}
	s, err := m.CreateService(Name, c.Exe, cfg, c.Args()...)
	if err != nil {
		return text.Errorf("Der Dienst konnte nicht angelegt werden: %w", err)
	}
	defer s.Close()
	// delayed start, so the network is up; a service manager that cannot
	// (Wine's) keeps the plain automatic start instead of losing the service
	cfg.DelayedAutoStart = true
	_ = s.UpdateConfig(cfg)
	_ = s.SetRecoveryActions([]mgr.RecoveryAction{
		{Type: mgr.ServiceRestart, Delay: 10 * time.Second},
		{Type: mgr.ServiceRestart, Delay: 60 * time.Second},
	}, 24*60*60)
	// the service's events go to the Application log under its name
	return InstallEventSource()
}

// Supported: the Windows service manager.
const Supported = true

// withService runs f on the installed service.
func withService(f func(s *mgr.Service) error) error {
	m, err := mgr.Connect()
	if err != nil {
		return text.Errorf("Dienstverwaltung nicht erreichbar (als Administrator ausführen?): %w", err)
	}
	defer m.Disconnect()
	s, err := m.OpenService(Name)
	if err != nil {
		return text.Errorf("Der Dienst %s ist nicht installiert.", Name)
	}
	defer s.Close()
	return f(s)
}

// Start starts the installed service.
func Start() error {
	return withService(start)
}

func start(s *mgr.Service) error {
	if err := s.Start(); err != nil && !errors.Is(err, windows.ERROR_SERVICE_ALREADY_RUNNING) {
		return text.Errorf("Der Dienst ließ sich nicht starten: %w", err)
	}
	return nil
}

// Uninstall stops and removes the service.
func Uninstall() error {
	return withService(remove)
}

func remove(s *mgr.Service) error {
	if st, err := s.Query(); err == nil && st.State != svc.Stopped {
		_, _ = s.Control(svc.Stop)
		for i := 0; i < 30; i++ {
			if st, err := s.Query(); err != nil || st.State == svc.Stopped {
				break
			}
			time.Sleep(time.Second)
		}
	}
	if err := s.Delete(); err != nil && !errors.Is(err, windows.ERROR_SERVICE_MARKED_FOR_DELETE) {
		return text.Errorf("Der Dienst konnte nicht entfernt werden: %w", err)
	}
	return RemoveEventSource()
}

// IsService reports whether the process was started by the service manager.
func IsService() bool {
	ok, err := svc.IsWindowsService()
	return err == nil && ok
}

// Run runs f as the Windows service until the manager stops it.
func Run(f func(ctx context.Context) error) error {
	return svc.Run(Name, &handler{f: f})
}

type handler struct {
	f func(ctx context.Context) error
}

func (h *handler) Execute(_ []string, req <-chan svc.ChangeRequest, status chan<- svc.Status) (bool, uint32) {
	status <- svc.Status{State: svc.StartPending}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.f(ctx) }()
	status <- svc.Status{State: svc.Running, Accepts: svc.AcceptStop | svc.AcceptShutdown}
	for {
		select {
		case err := <-done:
			cancel()
			if err != nil {
				return true, 1
			}
			return false, 0
		case r := <-req:
			switch r.Cmd {
			case svc.Interrogate:
				status <- r.CurrentStatus
			case svc.Stop, svc.Shutdown:
				status <- svc.Status{State: svc.StopPending}
				cancel()
				<-done
				return false, 0
			}
		}
	}
}
