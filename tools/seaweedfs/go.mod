// Module seaweedfs pins the SeaweedFS server that tenantcheck uses as its local
// S3+STS backend. It is kept apart from the main module so that SeaweedFS's
// several hundred dependencies never enter tenantcheck's own build graph.
module github.com/tenantcheck/tenantcheck/tools/seaweedfs

go 1.26.0

// SeaweedFS's own go.mod carries this replace; a wrapper module must repeat it
// or the build resolves a retracted go-bip39.
replace github.com/tyler-smith/go-bip39 => github.com/cosmos/go-bip39 v1.0.0
