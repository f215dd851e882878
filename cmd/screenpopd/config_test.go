package main

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"
)

// load parses args as screenpopd's flags and loads the config.
func load(t *testing.T, args ...string) (Config, error) {
	t.Helper()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	addFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("parse flags %v: %v", args, err)
	}
	return loadConfig(fs)
}

func TestExampleConfigLoadsAndDocumentsEveryKey(t *testing.T) {
	cfg, err := load(t, "--config", "../../config.example.yaml")
	if err != nil {
		t.Fatalf("config.example.yaml does not load: %v", err)
	}
	if cfg.ARIURL != "http://127.0.0.1:8088/ari" || cfg.Region != "RU" || cfg.ARIMode != "observe" {
		t.Errorf("example config read as %+v", cfg)
	}
	b, err := os.ReadFile("../../config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	var inFile []string
	for section, keys := range doc {
		for k := range keys {
			inFile = append(inFile, section+"."+k)
		}
	}
	for _, s := range settings {
		if !slices.Contains(inFile, s.key) {
			t.Errorf("setting %s is not documented in config.example.yaml", s.key)
		}
	}
	if len(inFile) != len(settings) {
		t.Errorf("config.example.yaml has %d keys, the daemon knows %d", len(inFile), len(settings))
	}
}

func TestConfigSources(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "screenpop.yaml")
	os.WriteFile(file, []byte("ari:\n  url: http://pbx.example:8088/ari\n  app: fromfile\nasterisk:\n  inbound_contexts: [file-ctx]\n"), 0o600)

	t.Run("the file is read", func(t *testing.T) {
		cfg, err := load(t, "--config", file)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.ARIURL != "http://pbx.example:8088/ari" || !slices.Equal(cfg.InboundContexts, []string{"file-ctx"}) {
			t.Errorf("got url %q contexts %v", cfg.ARIURL, cfg.InboundContexts)
		}
	})
	t.Run("the environment wins over the file and takes comma-separated lists", func(t *testing.T) {
		t.Setenv("SCREENPOP_ARI_APP", "fromenv")
		t.Setenv("SCREENPOP_ASTERISK_INBOUND_CONTEXTS", "from-trunk, from-trunk-iax")
		t.Setenv("SCREENPOP_ARI_PING_INTERVAL", "2s")
		cfg, err := load(t, "--config", file)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.ARIApp != "fromenv" || !slices.Equal(cfg.InboundContexts, []string{"from-trunk", "from-trunk-iax"}) || cfg.PingInterval != 2*time.Second {
			t.Errorf("got app %q contexts %v ping %v", cfg.ARIApp, cfg.InboundContexts, cfg.PingInterval)
		}
	})
	t.Run("flags win over the environment, with the short list flags too", func(t *testing.T) {
		t.Setenv("SCREENPOP_ARI_APP", "fromenv")
		cfg, err := load(t, "--config", file, "--ari-app", "fromflag",
			"--inbound-contexts", "a,b", "--operator-endpoints", "Local/{ext}@phones,IAX2/op{ext}")
		if err != nil {
			t.Fatal(err)
		}
		if cfg.ARIApp != "fromflag" || !slices.Equal(cfg.InboundContexts, []string{"a", "b"}) ||
			!slices.Equal(cfg.OperatorPattern, []string{"Local/{ext}@phones", "IAX2/op{ext}"}) {
			t.Errorf("got app %q contexts %v operators %v", cfg.ARIApp, cfg.InboundContexts, cfg.OperatorPattern)
		}
		if cfg.Operators.Operator("IAX2/op101-322") != "101" {
			t.Errorf("operator patterns from the flag do not recognise IAX2/op101-322")
		}
	})
	t.Run("the long list flag works too", func(t *testing.T) {
		cfg, err := load(t, "--asterisk-operator-endpoints", "SIP/{ext}")
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(cfg.OperatorPattern, []string{"SIP/{ext}"}) {
			t.Errorf("got %v", cfg.OperatorPattern)
		}
	})
	t.Run("the password comes from a file", func(t *testing.T) {
		pw := filepath.Join(dir, "pw")
		os.WriteFile(pw, []byte("s3cr3t-from-file\n"), 0o600)
		cfg, err := load(t, "--ari-password-file", pw)
		if err != nil {
			t.Fatal(err)
		}
		if string(cfg.ARIPassword) != "s3cr3t-from-file" {
			t.Errorf("password not read from the file")
		}
	})
}

func TestConfigReportsEveryProblemAtOnceWithTheKeyName(t *testing.T) {
	_, err := load(t, "--ari-url", "ftp://x", "--ari-mode", "sometimes", "--phone-default-region", "XX",
		"--operator-endpoints", "PJSIP/101", "--ari-ping-interval", "-1s", "--log-level", "loud", "--store-dsn", "mysql:nope", "--card-low-csi", "high", "--card-conflict-level", "9")
	if err == nil {
		t.Fatal("a broken config was accepted")
	}
	for _, key := range []string{"ari.url", "ari.mode", "phone.default_region", "asterisk.operator_endpoints", "ari.ping_interval", "log.level", "store.dsn", "card.low_csi", "card.conflict_level"} {
		if !strings.Contains(err.Error(), key+":") {
			t.Errorf("the error does not name %s:\n%v", key, err)
		}
	}
}

func TestConfigRejectsUnknownKeysInTheFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(file, []byte("ari:\n  pasword: typo\n"), 0o600)
	_, err := load(t, "--config", file)
	if err == nil || !strings.Contains(err.Error(), "ari.pasword: unknown setting") {
		t.Errorf("a misspelt key was not reported: %v", err)
	}
}

func TestSecretsNeverPrint(t *testing.T) {
	const pw, dsnPw = "hunter2-ari", "hunter2-db"
	t.Setenv("SCREENPOP_ARI_PASSWORD", pw)
	t.Setenv("SCREENPOP_STORE_DSN", "postgres://screenpop:"+dsnPw+"@127.0.0.1/screenpop")
	cfg, err := load(t)
	if err != nil {
		t.Fatal(err)
	}
	if string(cfg.ARIPassword) != pw {
		t.Fatal("password not read from the environment")
	}
	var logged strings.Builder
	slog.New(slog.NewTextHandler(&logged, nil)).Info("config", "config", cfg, "password", cfg.ARIPassword)
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("config", "config", cfg, "dsn", cfg.DSN)
	for _, out := range []string{fmt.Sprintf("%v %+v %#v %s", cfg, cfg, cfg, cfg.ARIPassword), logged.String()} {
		if strings.Contains(out, pw) || strings.Contains(out, dsnPw) {
			t.Errorf("a secret was printed: %s", out)
		}
	}
	// A config error must not echo the password either.
	t.Setenv("SCREENPOP_ARI_MODE", pw)
	if _, err := load(t); err == nil || strings.Contains(err.Error(), dsnPw) {
		t.Errorf("config error leaks the DSN password: %v", err)
	}
}

func TestAClusterTakesTheBoxesListOrClusterPBXNotBoth(t *testing.T) {
	file := filepath.Join(t.TempDir(), "screenpop.yaml")
	os.WriteFile(file, []byte("asterisk:\n  boxes:\n    - name: msk\n      url: http://10.0.1.5:8088/ari\n      password: a\n"+
		"    - name: spb\n      url: http://10.0.2.5:8088/ari\n      password: b\n"), 0o600)
	t.Run("the boxes list names the cluster's boxes", func(t *testing.T) {
		cfg, err := load(t, "--config", file, "--cluster-nats-url", "nats://127.0.0.1:4222")
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, b := range clusterBoxes(cfg) {
			names = append(names, b.Name+" "+b.URL)
		}
		if !slices.Equal(names, []string{"msk http://10.0.1.5:8088/ari", "spb http://10.0.2.5:8088/ari"}) {
			t.Errorf("the cluster's boxes: %q", names)
		}
	})
	t.Run("cluster.pbx names the one box of ari.url", func(t *testing.T) {
		cfg, err := load(t, "--ari-url", "http://10.0.1.5:8088/ari", "--cluster-nats-url", "nats://127.0.0.1:4222", "--cluster-pbx", "msk")
		if err != nil {
			t.Fatal(err)
		}
		if bs := clusterBoxes(cfg); len(bs) != 1 || bs[0].Name != "msk" || bs[0].URL != "http://10.0.1.5:8088/ari" {
			t.Errorf("the cluster's boxes: %+v", bs)
		}
	})
	t.Run("both are refused", func(t *testing.T) {
		_, err := load(t, "--config", file, "--cluster-nats-url", "nats://127.0.0.1:4222", "--cluster-pbx", "msk")
		if err == nil || !strings.Contains(err.Error(), "cluster.pbx: set either cluster.pbx") {
			t.Errorf("cluster.pbx with asterisk.boxes: %v", err)
		}
	})
}
