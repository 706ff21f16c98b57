"""The API's routes, by what they may do: read.py only reads tasks, write.py changes them."""
