module example.invalid/gofleet-verify

go 1.18
