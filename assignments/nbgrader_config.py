"""nbgrader's settings for the exercise notebooks (this folder is the course root).

`nbgrader generate_assignment backprop` run here writes the student versions of
source/backprop/ to release/backprop/, the same notebooks `make exercises` writes.
"""

c = get_config()  # noqa: F821 - nbgrader defines get_config when it reads this file
c.CourseDirectory.course_id = "chainrule-backprop"
