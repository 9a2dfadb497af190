//! The viewport's orbit camera: turntable rotation about the scene's up axis, pan, zoom.

use glam::{Mat4, Vec3};

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Orbit {
    pub target: Vec3,
    pub up: Vec3,
    pub distance: f32,
    /// Turn about `up`, radians.
    pub yaw: f32,
    /// Elevation above the plane ⟂ `up`, radians.
    pub pitch: f32,
    pub fov_y: f32,
}

impl Orbit {
    /// Two unit vectors spanning the plane ⟂ `up`.
    fn basis(&self) -> (Vec3, Vec3) {
        let e1 = self.up.any_orthonormal_vector();
        (e1, self.up.cross(e1))
    }

    pub fn eye(&self) -> Vec3 {
        let (e1, e2) = self.basis();
        let (sy, cy) = self.yaw.sin_cos();
        let (sp, cp) = self.pitch.sin_cos();
        self.target + self.distance * (cp * (cy * e1 + sy * e2) + sp * self.up)
    }

    pub fn view_proj(&self, aspect: f32) -> Mat4 {
        let view = glam::camera::rh::view::look_at_mat4(self.eye(), self.target, self.up);
        let proj = glam::camera::rh::proj::directx::perspective(
            self.fov_y,
            aspect.max(1e-3),
            self.distance * 1e-3,
            self.distance * 1e3,
        );
        proj * view
    }

    /// An orbit whose eye is at `eye` looking at `target`, keeping `up` and the field of view.
    pub fn looking(&self, eye: Vec3, target: Vec3, fov_y: f32) -> Orbit {
        let mut o = Orbit { target, distance: (eye - target).length().max(1e-6), fov_y, ..*self };
        let dir = (eye - target) / o.distance;
        let (e1, e2) = o.basis();
        o.pitch = dir.dot(o.up).clamp(-1.0, 1.0).asin().clamp(-1.55, 1.55);
        o.yaw = dir.dot(e2).atan2(dir.dot(e1));
        o
    }

    /// Drag by a fraction of the viewport height.
    pub fn rotate(&mut self, dx: f32, dy: f32) {
        self.yaw -= dx * 3.0;
        self.pitch = (self.pitch + dy * 3.0).clamp(-1.55, 1.55);
    }

    /// Moves the target so that the scene follows the pointer (fractions of viewport height).
    pub fn pan(&mut self, dx: f32, dy: f32) {
        let forward = (self.target - self.eye()).normalize();
        let right = forward.cross(self.up).normalize();
        let screen_up = right.cross(forward);
        let span = 2.0 * self.distance * (self.fov_y / 2.0).tan();
        self.target += (-dx * right + dy * screen_up) * span;
    }

    /// Scroll steps: positive moves closer.
    pub fn zoom(&mut self, steps: f32) {
        self.distance = (self.distance * (-steps * 0.1).exp()).max(1e-6);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn orbit() -> Orbit {
        Orbit { target: Vec3::new(1.0, 2.0, 3.0), up: Vec3::Z, distance: 5.0, yaw: 0.3, pitch: 0.4, fov_y: 0.8 }
    }

    #[test]
    fn target_projects_to_centre_and_eye_is_at_distance() {
        let o = orbit();
        assert!(((o.eye() - o.target).length() - 5.0).abs() < 1e-5);
        let c = o.view_proj(1.5).project_point3(o.target);
        assert!(c.x.abs() < 1e-5 && c.y.abs() < 1e-5 && (0.0..1.0).contains(&c.z));
    }

    #[test]
    fn looking_puts_the_eye_where_asked() {
        let eye = Vec3::new(4.0, -1.0, 2.0);
        let o = orbit().looking(eye, Vec3::new(1.0, 0.0, 1.0), 0.5);
        assert!((o.eye() - eye).length() < 1e-4, "{:?}", o.eye());
    }

    #[test]
    fn pan_moves_target_in_screen_plane_and_zoom_scales_distance() {
        let mut o = orbit();
        let before = o.view_proj(1.0);
        o.pan(0.1, 0.0);
        // Dragging right moves the scene right: the new centre of view was left of the old one.
        let p = before.project_point3(o.target);
        assert!(p.x < 0.0 && p.y.abs() < 1e-4, "{p:?}");
        o.zoom(1.0);
        assert!(o.distance < 5.0);
        o.rotate(0.0, 10.0);
        assert!(o.pitch <= 1.55);
    }
}
