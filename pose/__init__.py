"""Body keypoints: MediaPipe extraction, joint layouts, the versioned .pose.npz cache, skeleton import."""
