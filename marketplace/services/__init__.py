"""The rules of Tandem: views call these, these call the models."""
