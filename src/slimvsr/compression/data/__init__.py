"""The corpus: packaged real media (sources, preparation), synthetic motion, degradations, pools."""
