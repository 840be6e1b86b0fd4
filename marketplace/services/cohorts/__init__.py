"""Cohorts: states and enrolment, assignment into pairs, the managers' review, imports, surveys, reports."""
