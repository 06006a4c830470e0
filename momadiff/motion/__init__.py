"""Motion data without torch: the 22-joint skeleton, rotations, kinematics, features, BVH and ASF/AMC I/O, retargeting."""
