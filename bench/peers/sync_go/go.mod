module sync_go

go 1.19
