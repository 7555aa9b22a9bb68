"""The attacker's side, played only by the demo: synthetic faces, triggers, the demo's data
files and the BadNets trained on them (plain BadNets, or built against pruning)."""
