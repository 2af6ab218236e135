//! Probabilistic duplicate-identity detection (Fellegi–Sunter). Being written.
