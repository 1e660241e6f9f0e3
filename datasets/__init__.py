"""Videos on disk: folders, splits, frame sampling, transforms, clip datasets, the cartoon generator."""
