"""Flash sales (秒杀): the gate that never oversells, and the claims it hands out."""
