//go:build tools

// Package tools records the SeaweedFS version tenantcheck builds as its local
// S3+STS server, so `go build -C tools/seaweedfs ... github.com/seaweedfs/seaweedfs/weed`
// resolves a pinned, checksummed module graph instead of whatever is latest.
package tools

import _ "github.com/seaweedfs/seaweedfs/weed"
