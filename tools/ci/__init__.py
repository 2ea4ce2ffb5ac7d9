"""What `.ci/` runs: host discovery (`find_host`, standard library only) and the main job (`run_example`)."""
