package main

import (
	"context"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/hashicorp/go-multierror"
	"github.com/spf13/cobra"

	"github.com/tenantcheck/tenantcheck/fixtures/awsstack"
)

func newSweepCmd() *cobra.Command {
	var (
		af     awsFlags
		runID  string
		yes    bool
		dryRun bool
	)
	cmd := &cobra.Command{
		Use:   "sweep --yes",
		Short: "Find and delete every tenantcheck resource in the region by its run-id tag",
		Long: `Lists Lambda functions, IAM roles (path /tenantcheck/) with their inline policies, S3 buckets and
log groups whose names start with tenantcheck- and that carry the tag tenantcheck:run-id, and deletes
them: functions, role policies, roles, buckets (emptied first), then log groups. Untagged resources
are never touched, nor roles tagged tenantcheck:region with another region (IAM is global). This is
destructive: it refuses to run without --yes; use --dry-run to list what it would delete. --run-id
narrows it to one run. Afterwards each swept run's journal, if this machine has one, is finished
with a teardown and removed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !yes && !dryRun {
				return usageError("sweep deletes every tenantcheck-tagged resource in the region: list them with --dry-run, then pass --yes")
			}
			if runID != "" {
				if err := awsstack.ValidateRunID(runID); err != nil {
					return usageError("--run-id: %w", err)
				}
			}
			ctx := cmd.Context()
			cfg, err := af.config(ctx, "")
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			so := awsstack.SweepOptions{RunID: runID, Log: prefixWriter{w: cmd.ErrOrStderr()}}
			found, findErr := awsstack.FindLeftovers(ctx, cfg, so)
			if len(found) == 0 {
				fmt.Fprintf(out, "no tenantcheck resources found in %s\n", cfg.Region)
			}
			for _, l := range found {
				verb := "deleting"
				if dryRun {
					verb = "would delete"
				}
				fmt.Fprintf(out, "%s %s %s\n", verb, l.Kind, l)
			}
			if dryRun || len(found) == 0 {
				if findErr != nil {
					return toolError("sweep: some resources could not be listed: %w", findErr)
				}
				return nil
			}
			delErr := awsstack.DeleteLeftovers(ctx, cfg, found, so)
			switch {
			case delErr != nil && findErr != nil:
				return toolError("sweep: %w; and some resources could not be listed: %w", delErr, findErr)
			case delErr != nil:
				return toolError("sweep: %w", delErr)
			case findErr != nil:
				return toolError("sweep deleted %d resources, but some could not be listed: %w", len(found), findErr)
			}
			fmt.Fprintf(out, "swept %d resources\n", len(found))
			if err := finishSweptJournals(ctx, cfg, af.journalDir, found, cmd.ErrOrStderr()); err != nil {
				return toolError("sweep deleted every resource, but: %w", err)
			}
			return nil
		},
	}
	af.register(cmd)
	cmd.Flags().StringVar(&runID, "run-id", "", "only this run's resources")
	cmd.Flags().BoolVar(&yes, "yes", false, "really delete")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "list what would be deleted and delete nothing")
	return cmd
}

// finishSweptJournals closes the journals of the runs a sweep has just removed in region, so
// `teardown` stops listing runs that no longer exist. It does not simply throw them away: a
// journal may name what no tag can find (a bucket whose tagging never ran), so each is torn
// down, which deletes such remnants and counts what the sweep already took as gone. A journal
// of the same run ID in another region is kept: the sweep saw only this one.
func finishSweptJournals(ctx context.Context, cfg aws.Config, dir string, swept []awsstack.Leftover, stderr io.Writer) error {
	if dir == "" {
		var err error
		if dir, err = awsstack.DefaultJournalDir(); err != nil {
			return err
		}
	}
	seen := map[string]bool{}
	var errs error
	for _, l := range swept {
		if l.RunID == "" || seen[l.RunID] {
			continue
		}
		seen[l.RunID] = true
		j, err := awsstack.OpenJournal(dir, l.RunID)
		if err != nil || j.Region() != cfg.Region {
			continue // no journal of this run here (the usual case for a sweep)
		}
		st, err := awsstack.LoadStack(cfg, l.RunID, awsstack.LoadOptions{JournalDir: dir, Log: prefixWriter{w: stderr}})
		if err != nil {
			errs = multierror.Append(errs, err)
			continue
		}
		if err := st.Teardown(ctx); err != nil {
			errs = multierror.Append(errs, fmt.Errorf("finish the journal of swept run %s (%s): %w", l.RunID, j.Path(), err))
			continue
		}
		fmt.Fprintf(stderr, "tenantcheck: closed the journal of swept run %s (%s)\n", l.RunID, j.Path())
	}
	return errs
}
