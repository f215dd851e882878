package main

import (
	"github.com/spf13/cobra"
)

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "screenpopd",
		Short:         "Screen pops and a call log for Asterisk call centres",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version(),
	}
	root.SetVersionTemplate("{{.Version}}\n")
	root.AddCommand(newServeCmd(), newReplayCmd(), newMigrateCmd(), newOperatorCmd(), newEmployeeCmd(), newDemoCmd(), newCheckCmd(),
		newSourceCmd(), newTokenCmd(), newCallsCmd(), newImportCmd(), newRollupsCmd())
	return root
}

// withConfig gives a command every config flag and loads the config
// before it runs.
func withConfig(cmd *cobra.Command, run func(cmd *cobra.Command, cfg Config, args []string) error) *cobra.Command {
	addFlags(cmd.Flags())
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		cfg, err := loadConfig(cmd.Flags())
		if err != nil {
			return err
		}
		return run(cmd, cfg, args)
	}
	return cmd
}
