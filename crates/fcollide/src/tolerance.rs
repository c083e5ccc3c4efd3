//! The collision tolerance: the largest relative feature error `‖y(s) − y(t)‖ / ‖y(t)‖` at
//! the collision layer at which a polytope still collides with its target. A leaf module
//! below both [`crate::collide`] (whose parameters carry the tolerance) and
//! [`crate::polytope`] (whose verdict applies it), so that neither imports the other for it.

/// The default tolerance on the relative feature error for a row to collide.
pub const DEFAULT_COLLISION_TOL: f64 = 1e-3;

/// [`DEFAULT_COLLISION_TOL`] (for serde defaults).
pub fn default_tol() -> f64 {
    DEFAULT_COLLISION_TOL
}

/// Checks a tolerance given by a user: finite, positive, below 1.
pub fn check_tolerance(tol: f64) -> Result<f64, String> {
    if tol.is_finite() && tol > 0.0 && tol < 1.0 {
        Ok(tol)
    } else {
        Err(format!(
            "{tol} is not a relative feature error in (0, 1) (e.g. {DEFAULT_COLLISION_TOL})"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tolerance_is_a_relative_error_in_the_open_unit_interval() {
        assert!(check_tolerance(0.0).is_err());
        assert!(check_tolerance(f64::NAN).is_err());
        assert!(check_tolerance(2.0).is_err());
        assert!(check_tolerance(1.0).is_err());
        assert_eq!(check_tolerance(1e-4), Ok(1e-4));
        assert_eq!(default_tol(), DEFAULT_COLLISION_TOL);
    }
}
