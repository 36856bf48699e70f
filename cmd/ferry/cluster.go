package main

import (
	"fmt"
	"io"
	"slices"

	"github.com/spf13/cobra"

	"github.com/ferryhq/ferry/internal/client"
)

func init() { rootCmd.AddCommand(newClusterCmd()) }

func newClusterCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Inspect a Ferry cluster through one of its workers",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "status",
		Short: "Show the members, the leader and the task assignment",
		Long: `Show the cluster as the worker at --url sees it: every member with its gossip state,
REST URL and gossip address, the leader, and how many tasks the published assignment
gives each worker (with -o json, the full assignment).`,
		Args: cobra.NoArgs,
		RunE: run(func(cmd *cobra.Command, s *session, _ []string) error {
			info, err := s.client.Cluster(cmd.Context())
			if err != nil {
				return err
			}
			return s.print(func(w io.Writer) {
				fmt.Fprintf(w, "LEADER\t%s\n", info.Leader)
				fmt.Fprintf(w, "GENERATION\t%d\n\n", info.Generation)
				fmt.Fprintln(w, "WORKER\tSTATE\tTASKS\tREST\tGOSSIP")
				for _, m := range info.Members {
					state := m.State
					if m.Draining {
						state += ",draining"
					}
					if m.ID == info.Leader {
						state += ",leader"
					}
					fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%s\n", m.ID, state, len(info.Assignments[m.ID]), m.RESTURL, m.GossipAddr)
				}
				// Workers in the assignment the membership no longer lists
				// (waiting out the grace period, or pruned).
				var extra []string
				for id := range info.Assignments {
					if !slices.ContainsFunc(info.Members, func(m client.ClusterMember) bool { return m.ID == id }) {
						extra = append(extra, id)
					}
				}
				slices.Sort(extra)
				for _, id := range extra {
					fmt.Fprintf(w, "%s\t%s\t%d\t\t\n", id, "unknown", len(info.Assignments[id]))
				}
			})
		}),
	})
	return cmd
}
