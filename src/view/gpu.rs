//! Finding an adapter without a window: for tests, offscreen renders and the CLI.

/// A device and its queue, with a description of the adapter for the UI and logs.
pub struct Gpu {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub adapter: String,
}

impl Gpu {
    /// Any adapter wgpu can find, software ones (lavapipe, llvmpipe) included; honours
    /// `WGPU_BACKEND` and `WGPU_ADAPTER_NAME`.
    pub fn headless() -> Result<Gpu, String> {
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
        let adapter = pollster::block_on(wgpu::util::initialize_adapter_from_env_or_default(&instance, None))
            .or_else(|_| {
                pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions {
                    force_fallback_adapter: true,
                    ..Default::default()
                }))
            })
            .map_err(|e| {
                format!(
                    "no GPU adapter found ({e}). Without a GPU, install a software one: \
                     `apt-get install mesa-vulkan-drivers libvulkan1` (Vulkan lavapipe) or Mesa's \
                     llvmpipe OpenGL (`libegl1 libgl1-mesa-dri`)"
                )
            })?;
        Self::from_adapter(&adapter)
    }

    pub fn from_adapter(adapter: &wgpu::Adapter) -> Result<Gpu, String> {
        let info = adapter.get_info();
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("weave"),
            required_limits: wgpu::Limits::downlevel_defaults().using_resolution(adapter.limits()),
            ..Default::default()
        }))
        .map_err(|e| format!("the adapter {} refused a device: {e}", info.name))?;
        Ok(Gpu { device, queue, adapter: format!("{} ({:?})", info.name, info.backend) })
    }
}
