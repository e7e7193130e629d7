package main

import (
	"github.com/olekukonko/tablewriter"
	"github.com/spf13/cobra"

	"github.com/tenantcheck/tenantcheck/suites"
)

func newChecksCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "checks",
		Short: "List every check with its ID, area, level, contract clause and title",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			t := tablewriter.NewWriter(cmd.OutOrStdout())
			t.Header("ID", "AREA", "LEVEL", "CLAUSE", "TITLE")
			for _, c := range suites.All() {
				if err := t.Append(c.ID, c.Area, string(c.Level), c.PrimaryClause(), c.Title); err != nil {
					return err
				}
			}
			return t.Render()
		},
	}
}
