//go:build !unix

package main

func checkStoreOwner(Config) error { return nil }
