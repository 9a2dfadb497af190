//! The procedural scenes: their worlds and their camera rigs.

use super::primitive::Shape;
use super::render::{Background, Light, Object, World};
use super::texture::Material;
use crate::geometry::Pose;
use glam::DVec3;
use std::f64::consts::{PI, TAU};

pub struct Entry {
    pub name: &'static str,
    pub summary: &'static str,
    /// Everything in the world is geometry of the ground-truth mesh; backdrops are at infinity.
    pub world: fn() -> World,
    /// Camera poses spread over the capture path; training and test views are drawn from one rig.
    pub rig: fn(usize) -> Vec<Pose>,
    /// Horizontal field of view, degrees.
    pub fov_x_deg: f64,
    pub default_views: usize,
    pub default_test_views: usize,
    /// Whether exact object masks are written (only where "object" is well defined).
    pub masks: bool,
    /// Whether the photos are RGBA on a transparent background (as renderers write them, and
    /// NeRF's synthetic scenes come) instead of showing the backdrop.
    pub alpha: bool,
}

pub const SCENES: &[Entry] = &[
    Entry {
        name: "object",
        summary: "textured object on a pedestal, cameras all around it (360°), sky backdrop",
        world: object,
        rig: object_rig,
        fov_x_deg: 40.0,
        default_views: 48,
        default_test_views: 8,
        masks: true,
        alpha: false,
    },
    Entry {
        name: "object-top",
        summary: "the textured object, cameras on the upper hemisphere only, RGBA photos on a transparent background",
        world: object,
        rig: upper_rig,
        fov_x_deg: 40.0,
        default_views: 48,
        default_test_views: 8,
        masks: false,
        alpha: true,
    },
    Entry {
        name: "room",
        summary: "indoor room with large textureless walls and furniture, cameras inside",
        world: room,
        rig: room_rig,
        fov_x_deg: 75.0,
        default_views: 48,
        default_test_views: 8,
        masks: false,
        alpha: false,
    },
    Entry {
        name: "forward",
        summary: "forward-facing capture of objects before a wall, sky above",
        world: forward,
        rig: forward_rig,
        fov_x_deg: 60.0,
        default_views: 24,
        default_test_views: 4,
        masks: false,
        alpha: false,
    },
    Entry {
        name: "plain",
        summary: "matte single-coloured object on black, cameras on a ring: too little texture for SIFT",
        world: plain,
        rig: ring_rig,
        fov_x_deg: 40.0,
        default_views: 20,
        default_test_views: 4,
        masks: false,
        alpha: false,
    },
];

fn rgb(r: f64, g: f64, b: f64) -> DVec3 {
    DVec3::new(r, g, b)
}

fn object() -> World {
    World {
        objects: vec![
            Object {
                shape: Shape::Cuboid { min: DVec3::new(-0.6, -0.6, -0.8), max: DVec3::new(0.6, 0.6, -0.4) },
                material: Material::Speckled { a: rgb(0.55, 0.3, 0.15), b: rgb(0.9, 0.75, 0.5), scale: 6.0 },
            },
            Object {
                shape: Shape::Sphere { center: DVec3::new(0.0, 0.0, 0.1), radius: 0.5 },
                material: Material::Speckled { a: rgb(0.1, 0.25, 0.6), b: rgb(0.85, 0.9, 0.95), scale: 5.0 },
            },
            Object {
                shape: Shape::Sphere { center: DVec3::new(0.42, 0.42, -0.25), radius: 0.15 },
                material: Material::Speckled { a: rgb(0.7, 0.1, 0.1), b: rgb(0.95, 0.8, 0.2), scale: 12.0 },
            },
            Object {
                shape: Shape::Column { base: DVec3::new(-0.45, 0.3, -0.4), radius: 0.1, height: 0.7 },
                material: Material::Speckled { a: rgb(0.1, 0.45, 0.15), b: rgb(0.8, 0.95, 0.6), scale: 14.0 },
            },
        ],
        lights: vec![
            Light::Directional { dir: DVec3::new(-0.4, 0.3, -1.0), color: DVec3::splat(0.75) },
            Light::Directional { dir: DVec3::new(0.6, -0.5, -0.2), color: DVec3::splat(0.25) },
        ],
        ambient: 0.25,
        background: Background::Sky,
    }
}

fn object_rig(n: usize) -> Vec<Pose> {
    spiral_rig(n, -40.0, 70.0)
}

/// Points spread evenly over a band of elevations (degrees) on a sphere (Fibonacci spiral),
/// looking at the object.
fn spiral_rig(n: usize, lowest: f64, highest: f64) -> Vec<Pose> {
    let golden = PI * (3.0 - 5f64.sqrt());
    let (lo, hi) = (lowest.to_radians().sin(), highest.to_radians().sin());
    (0..n)
        .map(|i| {
            let z = lo + (hi - lo) * (i as f64 + 0.5) / n as f64;
            let r = (1.0 - z * z).sqrt();
            let a = golden * i as f64;
            let eye = 3.2 * DVec3::new(r * a.cos(), r * a.sin(), z);
            Pose::look_at(eye, DVec3::new(0.0, 0.0, -0.1), DVec3::Z)
        })
        .collect()
}

/// The upper hemisphere only, at 15° to 70° of elevation seen from the object: a capture from above,
/// as on a table, where no photo sees the underside.
fn upper_rig(n: usize) -> Vec<Pose> {
    spiral_rig(n, 15.0, 70.0)
}

/// The object's shapes in one matte colour, lit from one side: only shading and outline
/// tell the views apart.
fn plain() -> World {
    let clay = Material::Solid(rgb(0.75, 0.62, 0.5));
    World {
        objects: vec![
            Object {
                shape: Shape::Cuboid { min: DVec3::new(-0.6, -0.45, -0.8), max: DVec3::new(0.6, 0.45, -0.45) },
                material: clay,
            },
            Object { shape: Shape::Sphere { center: DVec3::new(-0.1, 0.0, 0.05), radius: 0.45 }, material: clay },
            Object { shape: Shape::Sphere { center: DVec3::new(0.42, 0.3, -0.25), radius: 0.18 }, material: clay },
            Object {
                shape: Shape::Column { base: DVec3::new(-0.45, 0.25, -0.45), radius: 0.1, height: 0.75 },
                material: clay,
            },
        ],
        lights: vec![
            Light::Directional { dir: DVec3::new(-0.5, 0.4, -0.8), color: DVec3::splat(0.8) },
            Light::Directional { dir: DVec3::new(0.6, -0.3, -0.3), color: DVec3::splat(0.2) },
        ],
        ambient: 0.15,
        background: Background::Black,
    }
}

/// A turntable's ring: cameras evenly around the object at about 25° elevation, each a
/// little off the even spacing and height (no real turntable is exact).
fn ring_rig(n: usize) -> Vec<Pose> {
    (0..n)
        .map(|i| {
            let a = TAU * i as f64 / n as f64 + 2f64.to_radians() * (7.0 * i as f64).sin();
            let elevation = (25.0 + 3.0 * (5.0 * i as f64).cos()).to_radians();
            let eye = 3.2 * DVec3::new(elevation.cos() * a.cos(), elevation.cos() * a.sin(), elevation.sin());
            Pose::look_at(eye, DVec3::new(0.0, 0.0, -0.2), DVec3::Z)
        })
        .collect()
}

const ROOM: DVec3 = DVec3::new(2.5, 2.0, 2.6);

fn wall(center: DVec3, u: DVec3, v: DVec3, color: DVec3) -> Object {
    Object { shape: Shape::Quad { center, u, v }, material: Material::Solid(color) }
}

fn room() -> World {
    let (x, y, h) = (ROOM.x, ROOM.y, ROOM.z / 2.0);
    World {
        objects: vec![
            Object {
                shape: Shape::Quad { center: DVec3::ZERO, u: DVec3::X * x, v: DVec3::Y * y },
                material: Material::Tiles { a: rgb(0.55, 0.4, 0.25), b: rgb(0.4, 0.28, 0.17), size: 0.5 },
            },
            wall(DVec3::new(0.0, 0.0, ROOM.z), DVec3::Y * y, DVec3::X * x, rgb(0.85, 0.85, 0.83)),
            wall(DVec3::new(-x, 0.0, h), DVec3::Y * y, DVec3::Z * h, rgb(0.75, 0.72, 0.6)),
            wall(DVec3::new(x, 0.0, h), DVec3::Z * h, DVec3::Y * y, rgb(0.6, 0.7, 0.75)),
            wall(DVec3::new(0.0, -y, h), DVec3::Z * h, DVec3::X * x, rgb(0.78, 0.68, 0.68)),
            wall(DVec3::new(0.0, y, h), DVec3::X * x, DVec3::Z * h, rgb(0.7, 0.75, 0.65)),
            Object {
                shape: Shape::Quad { center: DVec3::new(x - 0.002, 0.3, 1.5), u: DVec3::Z * 0.4, v: DVec3::Y * 0.55 },
                material: Material::Speckled { a: rgb(0.15, 0.2, 0.5), b: rgb(0.9, 0.6, 0.3), scale: 8.0 },
            },
            Object {
                shape: Shape::Cuboid { min: DVec3::new(-0.5, -0.35, 0.0), max: DVec3::new(0.5, 0.35, 0.75) },
                material: Material::Speckled { a: rgb(0.35, 0.2, 0.1), b: rgb(0.7, 0.5, 0.3), scale: 7.0 },
            },
            Object {
                shape: Shape::Sphere { center: DVec3::new(0.1, 0.0, 1.0), radius: 0.25 },
                material: Material::Speckled { a: rgb(0.7, 0.15, 0.1), b: rgb(0.95, 0.9, 0.7), scale: 10.0 },
            },
            Object {
                shape: Shape::Column { base: DVec3::new(1.6, 1.2, 0.0), radius: 0.25, height: 1.2 },
                material: Material::Speckled { a: rgb(0.2, 0.4, 0.2), b: rgb(0.8, 0.85, 0.6), scale: 9.0 },
            },
            Object {
                shape: Shape::Cuboid { min: DVec3::new(-2.2, -1.7, 0.0), max: DVec3::new(-1.4, -1.0, 1.0) },
                material: Material::Speckled { a: rgb(0.25, 0.25, 0.3), b: rgb(0.75, 0.75, 0.8), scale: 6.0 },
            },
        ],
        lights: vec![
            Light::Point { pos: DVec3::new(0.0, 0.0, 2.4), color: DVec3::splat(0.9) },
            Light::Directional { dir: DVec3::new(0.3, 0.2, -1.0), color: DVec3::splat(0.2) },
        ],
        ambient: 0.3,
        background: Background::Sky,
    }
}

/// Cameras on an ellipse around the room's centre, each looking across the room.
fn room_rig(n: usize) -> Vec<Pose> {
    (0..n)
        .map(|i| {
            let a = TAU * i as f64 / n as f64;
            let eye = DVec3::new(1.1 * a.cos(), 0.75 * a.sin(), 1.45 + 0.15 * (3.0 * a).sin());
            let yaw = a + PI + 0.5 * (2.0 * a).sin();
            let look = DVec3::new(yaw.cos(), yaw.sin(), -0.3 - 0.15 * (5.0 * a).cos());
            Pose::look_at(eye, eye + look, DVec3::Z)
        })
        .collect()
}

fn forward() -> World {
    World {
        objects: vec![
            Object {
                shape: Shape::Quad { center: DVec3::new(0.0, 2.5, 0.0), u: DVec3::X * 3.0, v: DVec3::Y * 2.5 },
                material: Material::Tiles { a: rgb(0.6, 0.6, 0.55), b: rgb(0.3, 0.32, 0.35), size: 0.6 },
            },
            Object {
                shape: Shape::Quad { center: DVec3::new(0.0, 5.0, 1.5), u: DVec3::X * 3.0, v: DVec3::Z * 1.5 },
                material: Material::Speckled { a: rgb(0.5, 0.2, 0.15), b: rgb(0.9, 0.8, 0.6), scale: 3.0 },
            },
            Object {
                shape: Shape::Sphere { center: DVec3::new(-0.8, 3.0, 0.5), radius: 0.5 },
                material: Material::Speckled { a: rgb(0.1, 0.3, 0.6), b: rgb(0.8, 0.9, 0.95), scale: 6.0 },
            },
            Object {
                shape: Shape::Cuboid { min: DVec3::new(0.3, 2.0, 0.0), max: DVec3::new(1.1, 2.8, 0.9) },
                material: Material::Speckled { a: rgb(0.2, 0.5, 0.2), b: rgb(0.9, 0.9, 0.5), scale: 7.0 },
            },
            Object {
                shape: Shape::Column { base: DVec3::new(0.0, 4.0, 0.0), radius: 0.3, height: 1.8 },
                material: Material::Speckled { a: rgb(0.6, 0.5, 0.1), b: rgb(0.95, 0.95, 0.85), scale: 8.0 },
            },
            Object {
                shape: Shape::Sphere { center: DVec3::new(1.5, 3.8, 0.35), radius: 0.35 },
                material: Material::Speckled { a: rgb(0.6, 0.1, 0.4), b: rgb(0.95, 0.7, 0.8), scale: 10.0 },
            },
        ],
        lights: vec![
            Light::Directional { dir: DVec3::new(-0.3, 0.6, -1.0), color: DVec3::splat(0.75) },
            Light::Directional { dir: DVec3::new(0.5, 0.2, -0.3), color: DVec3::splat(0.2) },
        ],
        ambient: 0.3,
        background: Background::Sky,
    }
}

/// Cameras on a jittered grid in a small window, all facing into the scene.
fn forward_rig(n: usize) -> Vec<Pose> {
    let cols = (n as f64 * 1.5).sqrt().ceil() as usize;
    let rows = n.div_ceil(cols);
    (0..n)
        .map(|i| {
            let (c, r) = (i % cols, i / cols);
            let u = if cols > 1 { c as f64 / (cols - 1) as f64 - 0.5 } else { 0.0 };
            let v = if rows > 1 { r as f64 / (rows - 1) as f64 - 0.5 } else { 0.0 };
            let eye = DVec3::new(1.0 * u, -0.5 + 0.1 * (7.0 * i as f64).sin(), 1.2 + 0.4 * v);
            let target = DVec3::new(0.3 * u, 3.5, 0.8);
            Pose::look_at(eye, target, DVec3::Z)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::rig::{Layout, detect_layout, upright};
    use glam::{DMat3, DVec3};

    #[test]
    fn layouts_of_the_procedural_rigs() {
        for (entry, layout) in
            SCENES.iter().zip([Layout::Object, Layout::Object, Layout::Room, Layout::Forward, Layout::Object])
        {
            let poses = (entry.rig)(24);
            assert_eq!(detect_layout(&poses), layout, "{}", entry.name);
        }
    }

    /// The procedural rigs stand upright (z up), the forward one pitched down too; turned 20°
    /// about a slanted axis they no longer do.
    #[test]
    fn upright_rigs() {
        let tilt = DMat3::from_axis_angle(DVec3::new(0.3, -0.5, 0.8).normalize(), 20f64.to_radians());
        for entry in SCENES {
            let poses = (entry.rig)(24);
            assert!(upright(&poses), "{}", entry.name);
            let turned: Vec<Pose> =
                poses.iter().map(|p| Pose { rotation: tilt * p.rotation, center: tilt * p.center }).collect();
            assert!(!upright(&turned), "{} turned", entry.name);
        }
    }
}
