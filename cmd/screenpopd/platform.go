package main

import "os"

// Where an installed screenpop keeps its config and data: the package puts
// the config at defaultSystemConfig, and its service's StateDirectory is
// systemDataDir.
const (
	defaultSystemConfig = "/etc/screenpop/screenpop.yaml"
	systemDataDir       = "/var/lib/screenpop"
)

// systemConfig is defaultSystemConfig; tests point it elsewhere so that a
// machine with screenpop installed does not change what they load.
var systemConfig = defaultSystemConfig

// installed says whether screenpop is installed on this machine: whether
// its system config file exists. The rule a user can predict: then every
// command reads that file unless given --config, and store.data_dir
// defaults to systemDataDir; else there is no config file unless given,
// and the store lives in ./data.
func installed() bool {
	_, err := os.Stat(systemConfig)
	return err == nil
}
