"""Catalog: a merchant's products, their images and variants (SKUs), and stock."""
