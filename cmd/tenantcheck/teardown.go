package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tenantcheck/tenantcheck/fixtures/awsstack"
)

func newTeardownCmd() *cobra.Command {
	var (
		af    awsFlags
		runID string
	)
	cmd := &cobra.Command{
		Use:   "teardown --run-id ID",
		Short: "Delete everything one deploy created, newest first, from its journal",
		Long: `Reads the run's journal (written as deploy created each resource, so it survives a crash) and
deletes each resource in reverse order; a resource already gone counts as deleted. Failures do not
stop the rest; whatever could not be deleted is named by ARN and stays in the journal for another
try. The region defaults to the one the run was deployed in. Without --run-id, lists the runs that
still have a journal. For resources no journal remembers, use "tenantcheck sweep".`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			dir := af.journalDir
			if dir == "" {
				var err error
				if dir, err = awsstack.DefaultJournalDir(); err != nil {
					return toolError("%w", err)
				}
			}
			if runID == "" {
				ids, err := awsstack.ListJournals(dir)
				if err != nil {
					return toolError("%w", err)
				}
				if len(ids) == 0 {
					return usageError("--run-id is required (no run journals in %s)", dir)
				}
				return usageError("--run-id is required; runs with a journal in %s: %s", dir, strings.Join(ids, ", "))
			}
			if err := awsstack.ValidateRunID(runID); err != nil {
				return usageError("--run-id: %w", err)
			}
			j, err := awsstack.OpenJournal(dir, runID)
			if err != nil {
				return usageError("%w", err)
			}
			region := af.region
			if region == "" {
				region = j.Region()
			}
			cfg, err := af.config(ctx, region)
			if err != nil {
				return err
			}
			st, err := awsstack.LoadStack(cfg, runID, awsstack.LoadOptions{JournalDir: dir, Log: prefixWriter{w: cmd.ErrOrStderr()}})
			if err != nil {
				return toolError("%w", err)
			}
			if err := st.Teardown(ctx); err != nil {
				var lb *awsstack.LeftBehindError
				if errors.As(err, &lb) {
					return toolError("%w\nretry with: tenantcheck teardown --run-id %s", err, runID)
				}
				return toolError("teardown run %s: %w", runID, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "run %s torn down\n", runID)
			return nil
		},
	}
	af.register(cmd)
	cmd.Flags().StringVar(&runID, "run-id", "", "the run ID deploy printed")
	return cmd
}
