//! Non-finite values in a network are an error, never a result: a NaN weight makes every
//! prediction NaN, and `argmax` of NaN probabilities would silently pick a class.
use super::{Graph, Op};

fn first_bad(v: &[f32]) -> Option<usize> {
    v.iter().position(|x| !x.is_finite())
}

/// Errors (naming the tensor, the flat index and the value) unless every weight, bias,
/// batch-norm statistic and constant of `net` is finite, every normalization `std` is
/// non-zero, every batch norm's `running_var + eps` is positive, and the pixel bounds are
/// finite with `lo < hi`.
pub fn check_finite(net: &Graph) -> Result<(), String> {
    let (lo, hi) = net.pixel_bounds;
    if !(lo.is_finite() && hi.is_finite() && lo < hi) {
        return Err(format!(
            "pixel bounds ({lo}, {hi}): expected finite bounds with lo < hi"
        ));
    }
    for (name, _, values) in net.named_params() {
        if let Some(i) = first_bad(values) {
            return Err(format!(
                "tensor '{name}' holds {} at flat index {i}; weights must be finite",
                values[i]
            ));
        }
    }
    for n in &net.nodes {
        let name = &n.name;
        let consts: Vec<(&str, &[f32])> = match &n.op {
            Op::Normalize { mean, std } => vec![("mean", mean), ("std", std)],
            Op::ChannelAffine { scale, shift } => vec![("scale", scale), ("shift", shift)],
            Op::Clip { min, max } => vec![
                ("min", std::slice::from_ref(min)),
                ("max", std::slice::from_ref(max)),
            ],
            Op::LeakyRelu { alpha } => vec![("alpha", std::slice::from_ref(alpha))],
            Op::BatchNorm { eps, .. } => vec![("eps", std::slice::from_ref(eps))],
            _ => Vec::new(),
        };
        for (what, v) in consts {
            if let Some(i) = first_bad(v) {
                return Err(format!(
                    "node '{name}' ({}): {what}[{i}] is {}; it must be finite",
                    n.op.kind(),
                    v[i]
                ));
            }
        }
        match &n.op {
            Op::Normalize { std, .. } => {
                if let Some(i) = std.iter().position(|&x| x == 0.0) {
                    return Err(format!(
                        "node '{name}': normalization std[{i}] is 0; it must be non-zero"
                    ));
                }
            }
            Op::BatchNorm { eps, var, .. } => {
                if let Some(i) = var.iter().position(|&v| (v as f64 + *eps as f64) <= 0.0) {
                    return Err(format!(
                        "node '{name}': running_var[{i}] + eps is {} ≤ 0; batch norm needs a \
                         positive variance",
                        var[i] as f64 + *eps as f64
                    ));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::arch;
    use rand::SeedableRng;

    #[test]
    fn nan_and_inf_weights_are_named() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let mut net = arch::mlp(&mut rng);
        assert!(check_finite(&net).is_ok());
        let fc2 = net.find("fc2").unwrap();
        if let Op::Linear { bias: Some(b), .. } = &mut net.nodes[fc2].op {
            b[3] = f32::INFINITY;
        } else {
            panic!("fc2 is a linear layer with a bias");
        }
        let err = check_finite(&net).unwrap_err();
        assert!(
            err.contains("fc2.bias") && err.contains("inf") && err.contains("index 3"),
            "{err}"
        );
    }

    #[test]
    fn zero_std_and_nan_bounds_are_refused() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let mut net = arch::lenet5(&mut rng);
        net.pixel_bounds = (0.0, f32::NAN);
        assert!(check_finite(&net).unwrap_err().contains("pixel bounds"));
        net.pixel_bounds = (0.0, 1.0);
        let mut g = crate::model::Graph::new("t", [1, 2, 2], (0.0, 1.0));
        g.nodes.push(crate::model::Node {
            name: "norm".into(),
            op: Op::Normalize {
                mean: vec![0.5],
                std: vec![0.0],
            },
            inputs: vec![0],
        });
        assert!(check_finite(&g).unwrap_err().contains("std[0] is 0"));
    }
}
