//! The CPU backend: the ray renderer over rayon, always available, and the reference the CUDA
//! backend is checked against. A batch is split into one part per worker, each with its own
//! gradient buffer, summed afterwards in a fixed order (runs repeat to the byte).

use super::{Backend, BackendError, Batch, BatchSums, FIELD_GROUPS, Model};
use crate::field::{ColorEval, Field, Occupancy, Params, SdfEval, SurfaceSample};
use crate::nn::adam::Adam;
use crate::nn::sh;
use crate::render::batch::sample_ray;
use crate::render::views::{Normalization, TrainView};
use crate::render::{self, Ray, RayScratch, RenderSettings, poses};
use crate::util::rng::Rng;
use rayon::prelude::*;

#[derive(Default)]
pub struct Cpu {
    /// Per worker, its share of the last batch's gradients; the first holds their mean after
    /// the batch.
    part_grads: Vec<Params>,
}

impl Backend for Cpu {
    fn label(&self) -> String {
        format!("CPU, {} threads", rayon::current_num_threads())
    }

    fn train_batch(
        &mut self,
        model: Model<'_>,
        views: &[TrainView],
        norm: &Normalization,
        batch: &Batch<'_>,
    ) -> Result<BatchSums, BackendError> {
        let Model { field, params, occupancy } = model;
        let sized = |g: &Params| g.grid.len() == params.grid.len() && g.poses.len() == params.poses.len();
        if self.part_grads.len() != batch.parts || !sized(&self.part_grads[0]) {
            self.part_grads = (0..batch.parts).map(|_| params.zeros_like()).collect();
        }
        let per_part = batch.rays / batch.parts;
        let (settings, seed, refine) = (batch.settings, batch.seed, batch.refine);
        let parts: Vec<BatchSums> = self
            .part_grads
            .par_iter_mut()
            .enumerate()
            .map(|(part, g)| {
                g.clear();
                let mut ws = RayScratch::default();
                let mut sums = BatchSums::new(views.len());
                for i in part * per_part..(part + 1) * per_part {
                    let r = sample_ray(views, norm, &params.poses, refine, &mut Rng::for_ray(seed, i));
                    let out = render::trace(
                        field,
                        params,
                        occupancy,
                        &r.ray.ray,
                        settings,
                        r.jitter,
                        &mut ws,
                        Some(&r.target),
                        Some(g),
                    );
                    if refine {
                        poses::accumulate_gradient(&r.ray, out.d_origin, out.d_dir, &mut g.poses[r.pose_range()]);
                    }
                    sums.add(&r, out.rgb, out.loss, out.samples);
                }
                sums
            })
            .collect();
        let mut sums = BatchSums::new(views.len());
        for p in &parts {
            sums.merge(p);
        }
        let (first, rest) = self.part_grads.split_at_mut(1);
        for g in rest.iter() {
            first[0].accumulate(g);
        }
        first[0].scale(1.0 / batch.rays as f32);
        sums.grads_finite = first[0].is_finite();
        sums.d_variance = first[0].variance;
        if refine {
            sums.pose_grad = first[0].poses.clone();
        }
        Ok(sums)
    }

    fn optimizer_step(&mut self, params: &mut Params, moments: &mut [Adam], lr: f32) -> Result<(), BackendError> {
        let grads = &self.part_grads[0];
        let groups = moments.iter_mut().zip(params.arrays_mut()).zip(grads.arrays()).take(FIELD_GROUPS);
        for ((adam, p), g) in groups {
            adam.update(p, g, lr);
        }
        Ok(())
    }

    fn params_finite(&self, params: &Params) -> bool {
        params.is_finite()
    }

    fn update_occupancy(
        &mut self,
        field: &Field,
        params: &Params,
        occupancy: &mut Occupancy,
        active: usize,
        reach: f32,
    ) -> Result<(), BackendError> {
        let occ = &*occupancy;
        let cells: Vec<bool> = (0..occ.cells.len())
            .into_par_iter()
            .map_init(SdfEval::default, |e, i| field.sdf(params, occ.center(i), active, e).abs() < reach)
            .collect();
        *occupancy = Occupancy { res: occ.res, cells }.or_full();
        Ok(())
    }

    fn occupancy_fraction(&self, host: &Occupancy) -> f32 {
        host.fraction()
    }

    fn upload_pixels(&mut self, _views: &[TrainView]) -> Result<(), BackendError> {
        Ok(())
    }

    fn read_back(&mut self, _: &mut Params, _: &mut [Adam], _: &mut Occupancy) -> Result<(), BackendError> {
        Ok(())
    }

    fn restore(&mut self, _params: &Params) -> Result<(), BackendError> {
        Ok(())
    }

    fn render(&self, model: Model<'_>, rays: &[Ray], settings: &RenderSettings) -> Result<Vec<[f32; 3]>, BackendError> {
        let Model { field, params, occupancy } = model;
        Ok(rays
            .par_iter()
            .map_init(RayScratch::default, |ws, ray| {
                render::trace(field, params, occupancy, ray, settings, 0.5, ws, None, None).rgb
            })
            .collect())
    }

    fn sdf(&self, model: Model<'_>, active: usize, points: &[[f32; 3]]) -> Result<Vec<f32>, BackendError> {
        let (field, params) = (model.field, model.params);
        Ok(points.par_iter().map_init(SdfEval::default, |e, &x| field.sdf(params, x, active, e)).collect())
    }

    fn colors(
        &self,
        model: Model<'_>,
        active: usize,
        h: f32,
        points: &[[f32; 3]],
        looks: &[[f32; 3]],
    ) -> Result<Vec<[f32; 3]>, BackendError> {
        let (field, p) = (model.field, model.params);
        Ok(points
            .par_iter()
            .zip(looks.par_iter())
            .map_init(
                || (SurfaceSample::default(), ColorEval::default()),
                |(s, c), (&x, &look)| {
                    field.surface(p, x, h, active, s);
                    let look = glam::Vec3::from(look);
                    let look =
                        if look == glam::Vec3::ZERO { -glam::Vec3::from(s.grad).normalize_or_zero() } else { look };
                    let mut dir = [0.0; sh::COEFFS];
                    sh::encode(look.to_array(), &mut dir);
                    field.color(p, s.grad, &dir, &s.feat, c);
                    c.rgb
                },
            )
            .collect())
    }

    fn kernel_seconds(&self) -> f64 {
        0.0
    }
}
