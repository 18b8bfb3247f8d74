"""The audit's attacks: membership, attribute inference, singling out and copies, and the density model they
use. Each attack scores training records and, with the same procedure, holdout records (the control)."""
