//! What the Vulkan loader says about a machine's devices (`vulkaninfo --summary`): the GPUs of
//! the host's facts, and the driver stack of a Vulkan toolbox.

/// One device the loader lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VulkanDevice {
    /// `AMD Radeon 8060S Graphics (RADV GFX1151)`, `llvmpipe (LLVM 19.1.7, 256 bits)`.
    pub(crate) name: String,
    /// `integrated GPU`, `discrete GPU`, `virtual GPU`, `CPU device` or `other device`.
    pub(crate) kind: &'static str,
    /// `radv`, `llvmpipe`, `AMD proprietary driver`.
    pub(crate) driver_name: Option<String>,
    /// `Mesa 25.0.7-2 (LLVM 19.1.7)`.
    pub(crate) driver_info: Option<String>,
}

impl VulkanDevice {
    /// As the host's facts list it: the name and the kind, so that a CPU driver (lavapipe)
    /// is never read as a GPU.
    pub(crate) fn fact(&self) -> String {
        format!("{} ({})", self.name, self.kind)
    }

    /// The driver stack: `Mesa 25.0.7-2 (LLVM 19.1.7), llvmpipe`.
    pub(crate) fn driver(&self) -> Option<String> {
        match (&self.driver_info, &self.driver_name) {
            (Some(info), Some(name)) => Some(format!("{info}, {name}")),
            (Some(only), None) | (None, Some(only)) => Some(only.clone()),
            (None, None) => None,
        }
    }
}

/// The devices of `vulkaninfo --summary`'s `Devices:` section, in its order.
pub(crate) fn devices(summary: &str) -> Vec<VulkanDevice> {
    let mut devices = Vec::new();
    let mut in_devices = false;
    let mut current: Option<VulkanDevice> = None;
    for line in summary.lines() {
        let trimmed = line.trim();
        if trimmed == "Devices:" {
            in_devices = true;
            continue;
        }
        if !in_devices {
            continue;
        }
        // `GPU0:` starts a device (the loader numbers every device so, CPU ones too).
        if !line.starts_with(char::is_whitespace) && trimmed.ends_with(':') && trimmed.starts_with("GPU") {
            devices.extend(current.take());
            current =
                Some(VulkanDevice { name: String::new(), kind: "other device", driver_name: None, driver_info: None });
            continue;
        }
        let (Some(device), Some((key, value))) = (current.as_mut(), trimmed.split_once('=')) else { continue };
        let value = value.trim();
        match key.trim() {
            "deviceName" => value.clone_into(&mut device.name),
            "deviceType" => {
                device.kind = match value {
                    "PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU" => "integrated GPU",
                    "PHYSICAL_DEVICE_TYPE_DISCRETE_GPU" => "discrete GPU",
                    "PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU" => "virtual GPU",
                    "PHYSICAL_DEVICE_TYPE_CPU" => "CPU device",
                    _ => "other device",
                }
            }
            "driverName" => device.driver_name = Some(value.to_owned()),
            "driverInfo" => device.driver_info = Some(value.to_owned()),
            _ => {}
        }
    }
    devices.extend(current);
    devices.retain(|device| !device.name.is_empty());
    devices
}

#[cfg(test)]
mod tests {
    use super::*;

    const LAVAPIPE: &str = "\
Instance Layers: count = 3
--------------------------
VK_LAYER_MESA_device_select Linux device selection layer 1.4.303  version 1

Devices:
========
GPU0:
\tapiVersion         = 1.4.305
\tdeviceType         = PHYSICAL_DEVICE_TYPE_CPU
\tdeviceName         = llvmpipe (LLVM 19.1.7, 256 bits)
\tdriverID           = DRIVER_ID_MESA_LLVMPIPE
\tdriverName         = llvmpipe
\tdriverInfo         = Mesa 25.0.7-2+deb13u1 (LLVM 19.1.7)
";

    #[test]
    fn lavapipe_is_a_cpu_device_with_its_mesa() {
        let devices = devices(LAVAPIPE);
        assert_eq!(devices.len(), 1);
        assert_eq!(devices[0].fact(), "llvmpipe (LLVM 19.1.7, 256 bits) (CPU device)");
        assert_eq!(devices[0].driver().as_deref(), Some("Mesa 25.0.7-2+deb13u1 (LLVM 19.1.7), llvmpipe"));
    }

    #[test]
    fn several_devices_keep_their_order_and_kinds() {
        let text = "Devices:\n========\nGPU0:\n\tdeviceType = PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU\n\tdeviceName = AMD Radeon 8060S Graphics (RADV GFX1151)\n\tdriverName = radv\nGPU1:\n\tdeviceType = PHYSICAL_DEVICE_TYPE_CPU\n\tdeviceName = llvmpipe (LLVM 19.1.7, 256 bits)\n";
        let facts: Vec<String> = devices(text).iter().map(VulkanDevice::fact).collect();
        assert_eq!(
            facts,
            [
                "AMD Radeon 8060S Graphics (RADV GFX1151) (integrated GPU)",
                "llvmpipe (LLVM 19.1.7, 256 bits) (CPU device)"
            ]
        );
        assert!(devices("no devices section\n").is_empty());
    }
}
