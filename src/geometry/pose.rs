use glam::{DMat3, DMat4, DQuat, DVec3, DVec4};

/// Flips camera y and z: OpenGL camera axes (y up, looking down -z) ↔ OpenCV axes.
const GL_TO_CV: DMat3 =
    DMat3::from_cols(DVec3::new(1.0, 0.0, 0.0), DVec3::new(0.0, -1.0, 0.0), DVec3::new(0.0, 0.0, -1.0));

/// A rigid camera-to-world pose in OpenCV camera axes: `x_world = rotation · x_cam + center`.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Pose {
    pub rotation: DMat3,
    pub center: DVec3,
}

impl Pose {
    pub const IDENTITY: Pose = Pose { rotation: DMat3::IDENTITY, center: DVec3::ZERO };

    pub fn new(rotation: DMat3, center: DVec3) -> Self {
        Self { rotation, center }
    }

    /// A camera at `eye` looking at `target`, its image "up" as close to `up` as possible.
    pub fn look_at(eye: DVec3, target: DVec3, up: DVec3) -> Self {
        let z = (target - eye).normalize();
        let x = z.cross(up).try_normalize().unwrap_or_else(|| z.any_orthonormal_vector());
        let y = z.cross(x);
        Self::new(DMat3::from_cols(x, y, z), eye)
    }

    /// From COLMAP's world-to-camera quaternion (w, x, y, z; Hamilton) and translation.
    pub fn from_colmap(qvec: [f64; 4], tvec: DVec3) -> Self {
        let q = DQuat::from_xyzw(qvec[1], qvec[2], qvec[3], qvec[0]).normalize();
        let r_w2c = DMat3::from_quat(q);
        Self::new(r_w2c.transpose(), -(r_w2c.transpose() * tvec))
    }

    /// COLMAP's world-to-camera quaternion (w, x, y, z; w ≥ 0) and translation.
    pub fn to_colmap(&self) -> ([f64; 4], DVec3) {
        let r_w2c = self.rotation.transpose();
        let mut q = DQuat::from_mat3(&r_w2c).normalize();
        if q.w < 0.0 {
            q = -q;
        }
        ([q.w, q.x, q.y, q.z], -(r_w2c * self.center))
    }

    /// From a transforms.json camera-to-world matrix (OpenGL camera axes).
    pub fn from_opengl_c2w(m: DMat4) -> Self {
        let r = DMat3::from_mat4(m) * GL_TO_CV;
        Self::new(orthonormalize(r), m.w_axis.truncate())
    }

    /// The transforms.json camera-to-world matrix (OpenGL camera axes).
    pub fn to_opengl_c2w(&self) -> DMat4 {
        let r = self.rotation * GL_TO_CV;
        DMat4::from_cols(
            r.x_axis.extend(0.0),
            r.y_axis.extend(0.0),
            r.z_axis.extend(0.0),
            DVec4::new(self.center.x, self.center.y, self.center.z, 1.0),
        )
    }

    pub fn to_world(&self, p_cam: DVec3) -> DVec3 {
        self.rotation * p_cam + self.center
    }

    pub fn to_camera(&self, p_world: DVec3) -> DVec3 {
        self.rotation.transpose() * (p_world - self.center)
    }

    /// Viewing direction (camera +z) in world space.
    pub fn forward(&self) -> DVec3 {
        self.rotation.z_axis
    }

    /// Angle in radians of the rotation between two poses' orientations.
    pub fn rotation_angle_to(&self, other: &Pose) -> f64 {
        // atan2 of the sine and cosine parts stays accurate for tiny angles, unlike acos.
        let r = self.rotation.transpose() * other.rotation;
        let cos = (r.x_axis.x + r.y_axis.y + r.z_axis.z - 1.0) / 2.0;
        let sin = DVec3::new(r.y_axis.z - r.z_axis.y, r.z_axis.x - r.x_axis.z, r.x_axis.y - r.y_axis.x).length() / 2.0;
        sin.atan2(cos)
    }

    /// This pose moved by a small rotation (axis-angle vector, radians, about the camera
    /// centre) and a translation of the centre.
    pub fn perturbed(&self, rot: DVec3, shift: DVec3) -> Pose {
        let q = DQuat::from_scaled_axis(rot);
        Pose::new(DMat3::from_quat(q) * self.rotation, self.center + shift)
    }
}

/// Nearest rotation to a matrix that is orthonormal up to float noise (files store 6–9 digits).
fn orthonormalize(r: DMat3) -> DMat3 {
    let x = r.x_axis.normalize();
    let y = (r.y_axis - x * x.dot(r.y_axis)).normalize();
    let z = x.cross(y);
    DMat3::from_cols(x, y, z)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_pose() -> Pose {
        Pose::look_at(DVec3::new(1.0, -2.0, 3.0), DVec3::new(0.1, 0.2, -0.3), DVec3::Z)
    }

    fn assert_close(a: &Pose, b: &Pose) {
        assert!(a.rotation_angle_to(b) < 1e-9, "rotation differs: {a:?} {b:?}");
        assert!((a.center - b.center).length() < 1e-9, "centre differs: {a:?} {b:?}");
    }

    #[test]
    fn look_at_points_camera_at_target() {
        let p = sample_pose();
        let target_cam = p.to_camera(DVec3::new(0.1, 0.2, -0.3));
        assert!(target_cam.x.abs() < 1e-12 && target_cam.y.abs() < 1e-12 && target_cam.z > 0.0);
        // World up (+z) appears towards the top of the image: negative camera y.
        assert!(p.to_camera(p.center + DVec3::Z).y < 0.0);
        assert!((p.rotation.determinant() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn colmap_round_trip() {
        let p = sample_pose();
        let (q, t) = p.to_colmap();
        assert!(q[0] >= 0.0);
        assert_close(&Pose::from_colmap(q, t), &p);
        // x_cam = R·X + t holds for COLMAP's w2c parameters.
        let x = DVec3::new(0.3, 0.7, -1.1);
        let r = DMat3::from_quat(DQuat::from_xyzw(q[1], q[2], q[3], q[0]));
        assert!((r * x + t - p.to_camera(x)).length() < 1e-12);
    }

    #[test]
    fn opengl_round_trip_and_axes() {
        let p = sample_pose();
        let m = p.to_opengl_c2w();
        assert_close(&Pose::from_opengl_c2w(m), &p);
        // OpenGL camera looks down -z: the matrix's z column is minus the viewing direction.
        assert!((m.z_axis.truncate() + p.forward()).length() < 1e-12);
        // and its y column is image-up, opposite OpenCV's y.
        assert!((m.y_axis.truncate() + p.rotation.y_axis).length() < 1e-12);
    }

    #[test]
    fn colmap_and_opengl_agree_with_documented_relation() {
        // c2w_gl = inv([R|t]) · diag(1, -1, -1, 1)
        let p = sample_pose();
        let (q, t) = p.to_colmap();
        let r = DMat3::from_quat(DQuat::from_xyzw(q[1], q[2], q[3], q[0]));
        let w2c = DMat4::from_cols(r.x_axis.extend(0.0), r.y_axis.extend(0.0), r.z_axis.extend(0.0), t.extend(1.0));
        let expected = w2c.inverse() * DMat4::from_diagonal(DVec4::new(1.0, -1.0, -1.0, 1.0));
        assert!(expected.abs_diff_eq(p.to_opengl_c2w(), 1e-12));
    }

    #[test]
    fn perturbation_has_requested_size() {
        let p = sample_pose();
        let q = p.perturbed(DVec3::new(0.01, 0.0, 0.0), DVec3::new(0.0, 0.5, 0.0));
        assert!((p.rotation_angle_to(&q) - 0.01).abs() < 1e-12);
        assert!(((q.center - p.center).length() - 0.5).abs() < 1e-12);
    }
}
