"""The networks: ResNetConfig (torch-free), the 2015 and 2016 blocks, build_resnet, pretrained weights, summaries."""
