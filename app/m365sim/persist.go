package m365sim

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// savedState is the state file: everything that changes while the emulator
// runs. The directory itself comes from the tenant file.
type savedState struct {
	Version      int                            `json:"version"`
	SigningKey   string                         `json:"signingKey"` // PEM, so that issued tokens stay valid
	ClockOffset  time.Duration                  `json:"clockOffset"`
	Seq          int64                          `json:"seq"`
	Mailboxes    map[string]*mailbox            `json:"mailboxes"` // user id -> mailbox
	Consents     map[string]map[string][]string `json:"consents"`  // client id -> user id -> scopes
	AdminConsent map[string]bool                `json:"adminConsent"`
	Refresh      map[string]refreshSaved        `json:"refresh"`
}

type refreshSaved struct {
	ClientID string    `json:"clientId"`
	UserID   string    `json:"userId"`
	TenantID string    `json:"tenantId"`
	Issued   time.Time `json:"issued"`
	LastUsed time.Time `json:"lastUsed"`
	Scope    string    `json:"scope"`
}

// Save writes the state file (Options.StateFile) atomically.
func (s *Server) Save() error {
	if s.opts.StateFile == "" {
		return errors.New("m365sim: no state file configured")
	}
	s.mu.Lock()
	st := savedState{Version: 1, ClockOffset: s.clockOffset, Seq: s.seq, Mailboxes: map[string]*mailbox{},
		Consents: map[string]map[string][]string{}, AdminConsent: map[string]bool{}, Refresh: map[string]refreshSaved{}}
	st.SigningKey = string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(s.signer.key)}))
	for _, u := range s.users {
		st.Mailboxes[u.ID] = u.mailbox
	}
	for _, t := range s.tenants {
		for _, a := range t.apps {
			st.AdminConsent[a.ClientID] = a.AdminConsent
			cm := map[string][]string{}
			for uid, scopes := range a.consents {
				for sc := range scopes {
					cm[uid] = append(cm[uid], sc)
				}
			}
			st.Consents[a.ClientID] = cm
		}
	}
	for raw, rt := range s.refresh {
		st.Refresh[raw] = refreshSaved{rt.clientID, rt.userID, rt.tenantID, rt.issued, rt.lastUsed, rt.scope}
	}
	b, err := json.Marshal(st)
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	tmp := s.opts.StateFile + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	if err := os.Rename(tmp, s.opts.StateFile); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	return nil
}

func (s *Server) loadState(path string) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return os.MkdirAll(filepath.Dir(path), 0o700)
	}
	if err != nil {
		return fmt.Errorf("read state: %w", err)
	}
	var st savedState
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("state file %s is damaged: %w", path, err)
	}
	if st.Version != 1 {
		return fmt.Errorf("state file %s has version %d, want 1", path, st.Version)
	}
	if blk, _ := pem.Decode([]byte(st.SigningKey)); blk != nil {
		key, err := x509.ParsePKCS1PrivateKey(blk.Bytes)
		if err != nil {
			return fmt.Errorf("state file %s: signing key: %w", path, err)
		}
		if s.signer, err = signerFromKey(key, s.now()); err != nil {
			return err
		}
	}
	s.clockOffset, s.seq = st.ClockOffset, st.Seq
	for _, u := range s.users {
		if mb := st.Mailboxes[u.ID]; mb != nil {
			if mb.Tasks == nil {
				mb.Tasks = map[string]*collection{}
			}
			if mb.TxIDs == nil {
				mb.TxIDs = map[string]string{}
			}
			u.mailbox = mb
		}
	}
	for _, t := range s.tenants {
		for _, a := range t.apps {
			if v, ok := st.AdminConsent[a.ClientID]; ok {
				a.AdminConsent = v
			}
			for uid, scopes := range st.Consents[a.ClientID] {
				m := map[string]bool{}
				for _, sc := range scopes {
					m[sc] = true
				}
				a.consents[uid] = m
			}
		}
	}
	for raw, rt := range st.Refresh {
		s.refresh[raw] = &refreshToken{clientID: rt.ClientID, userID: rt.UserID, tenantID: rt.TenantID, issued: rt.Issued, lastUsed: rt.LastUsed, scope: rt.Scope}
	}
	return nil
}
