"""The casino platform: players, wallets, the ledger, game launch and the provider callbacks."""
