"""The game provider (JAQPOT): launches, rounds, bets, and its client for the casino's wallet."""
