//! A reduced training run on a procedural scene must reconstruct it: held-out PSNR and
//! Chamfer distance to the exact mesh beat bounds that the untrained field (a sphere) or a
//! broken trainer cannot reach. Runs in about a minute on two cores.

mod support;

#[test]
fn reduced_training_reconstructs_the_object_scene() {
    support::reduced_training(false);
}
